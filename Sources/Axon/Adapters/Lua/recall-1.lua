-- Recall in one tier: picks the candidates from the smallest index the query allows, filters and ranks
-- them here, and returns at most `limit` entries (RecallPlan and RecallRanking describe the rules; this is
-- their twin). Work is bounded by the budget: at most `budget` candidates are examined, one HMGET each.
-- Members whose entry hash is gone are removed from the index on the way.
-- KEYS[1] lexicographic index x.
-- ARGV[1] now ms, ARGV[2] entry key prefix, ARGV[3] budget, ARGV[4] limit, ARGV[5] 1 when the tier indexes
-- words, ARGV[6] 1 with an importance range, ARGV[7] its lower and ARGV[8] upper bound (inclusive),
-- ARGV[9] 1 with a created range, ARGV[10] created at or after ms, ARGV[11] created before ms,
-- ARGV[12] the query's words joined by spaces (the phrase), then counted lists, each a count followed by its
-- items: all-of tags (hex), any-of tags (hex), user (0 or 1: hex, value), session (0 or 1: hex, value),
-- metadata (pairs: key, value), distinct query words.
-- Returns {candidates, examined, id, fields, id, fields, ...}.
--@include helpers
local x, eprefix = KEYS[1], ARGV[2]
local now, budget, limit = number(ARGV[1], 'now'), number(ARGV[3], 'budget'), number(ARGV[4], 'limit')
local indexesWords = ARGV[5] == '1'
local hasImportance, lowImportance, highImportance = ARGV[6] == '1', number(ARGV[7], 'importance'), number(ARGV[8], 'importance')
local hasCreated, createdFrom, createdTo = ARGV[9] == '1', number(ARGV[10], 'created'), number(ARGV[11], 'created')
local phrase = ARGV[12]
local position = 13
local function list(width)
  local n = number(ARGV[position], 'count')
  local items = {}
  for k = 1, n * width do items[k] = ARGV[position + k] end
  position = position + 1 + n * width
  return items
end
local allTags, anyTags, user, session, metadata, words = list(1), list(1), list(2), list(2), list(2), list(1)
if position - 1 ~= #ARGV then return redis.error_reply('ERR axon recall: malformed argument lists') end

-- The candidate options (RecallPlan.options) and the smallest.
local function size(source) return redis.call('ZLEXCOUNT', x, '[' .. source .. '\0', '(' .. source .. '\1') end
local options = {}
for _, hex in ipairs(allTags) do options[#options + 1] = {'t' .. hex} end
if #user > 0 then options[#options + 1] = {'u' .. user[1]} end
if #session > 0 then options[#options + 1] = {'s' .. session[1]} end
if #anyTags > 0 then
  local union = {}
  for _, hex in ipairs(anyTags) do union[#union + 1] = 't' .. hex end
  options[#options + 1] = union
end
if indexesWords and #words > 0 then
  local union = {}
  for _, word in ipairs(words) do union[#union + 1] = 'w' .. word end
  options[#options + 1] = union
end
if #options == 0 then options[1] = {'a'} end
local chosen, total
for _, option in ipairs(options) do
  local sum = 0
  for _, source in ipairs(option) do sum = sum + size(source) end
  if not total or sum < total then chosen, total = option, sum end
end

-- The candidates: every member of the chosen sources, or the `budget` greatest ids of their union.
local candidates, seen = {}, {}
local function add(id, member)
  if not seen[id] then
    seen[id] = true
    candidates[#candidates + 1] = {id = id, member = member}
  end
end
if total <= budget then
  for _, source in ipairs(chosen) do
    local cut = #source + 2
    for _, member in ipairs(redis.call('ZRANGEBYLEX', x, '[' .. source .. '\0', '(' .. source .. '\1')) do
      add(string.sub(member, cut), member)
    end
  end
else
  local heads = {}
  for k, source in ipairs(chosen) do
    local members = redis.call('ZREVRANGEBYLEX', x, '(' .. source .. '\1', '[' .. source .. '\0', 'LIMIT', 0, budget)
    heads[k] = {members = members, at = 1, cut = #source + 2, id = members[1] and string.sub(members[1], #source + 2)}
  end
  while #candidates < budget do
    local best
    for _, head in ipairs(heads) do
      if head.id and (not best or before(best.id, head.id)) then best = head end
    end
    if not best then break end
    add(best.id, best.members[best.at])
    best.at = best.at + 1
    local member = best.members[best.at]
    best.id = member and string.sub(member, best.cut)
  end
end

-- Filters and relevance (RecallRanking.relevance): one HMGET per candidate.
local q = #words
local needsWords = q > 0 and not (q == 1 and #chosen == 1 and chosen[1] == 'w' .. words[1])
local fields = {'e', 'c', 'i', 'k', 'u', 's'}
if #metadata > 0 then fields[#fields + 1] = 'm' end
local wordsAt = #fields + 1
if needsWords then fields[#fields + 1] = 'w' fields[#fields + 1] = 'g' end
local patterns = {}
for k, word in ipairs(words) do patterns[k] = ' ' .. word .. ' ' end
local matches = {}
for _, candidate in ipairs(candidates) do
  local v = redis.call('HMGET', eprefix .. candidate.id, unpack(fields))
  local expiry = tonumber(v[1])
  local keep = expiry and expiry > now
  if not v[1] then redis.call('ZREM', x, candidate.member) end
  local importance, created = tonumber(v[3]), tonumber(v[2])
  if keep then keep = importance and created end
  if keep and hasImportance then keep = importance >= lowImportance and importance <= highImportance end
  if keep and hasCreated then keep = created >= createdFrom and created < createdTo end
  if keep and (#allTags > 0 or #anyTags > 0) then
    local tags = ',' .. (v[4] or '') .. ','
    for _, hex in ipairs(allTags) do
      if not string.find(tags, ',' .. hex .. ',', 1, true) then keep = false break end
    end
    if keep and #anyTags > 0 then
      keep = false
      for _, hex in ipairs(anyTags) do
        if string.find(tags, ',' .. hex .. ',', 1, true) then keep = true break end
      end
    end
  end
  if keep and #user > 0 then keep = v[5] == user[2] end
  if keep and #session > 0 then keep = v[6] == session[2] end
  if keep and #metadata > 0 then
    local ok, decoded = pcall(cjson.decode, v[7] or '{}')
    keep = ok and type(decoded) == 'table'
    for k = 1, #metadata, 2 do
      if not keep then break end
      keep = decoded[metadata[k]] == metadata[k + 1]
    end
  end
  local found = q
  if keep and needsWords then
    local text, tagWords = v[wordsAt] or '', v[wordsAt + 1] or ''
    found = 0
    for _, pattern in ipairs(patterns) do
      if string.find(text, pattern, 1, true) or string.find(tagWords, pattern, 1, true) then found = found + 1 end
    end
    keep = found > 0
    candidate.text, candidate.tagWords = text, tagWords
  end
  if keep then
    candidate.importance, candidate.created = importance, created
    -- A candidate with every word is assumed a phrase match until it reaches the top (checked then).
    if q == 0 then candidate.rank = 0 elseif found == q then candidate.rank = q + 1 candidate.full = true else candidate.rank = found end
    matches[#matches + 1] = candidate
  end
end

-- Ranking (RecallRanking.ranksBefore) with a heap: only candidates that reach the top get the phrase check.
local function better(a, b)
  if a.rank ~= b.rank then return a.rank > b.rank end
  if q > 0 and a.importance ~= b.importance then return a.importance > b.importance end
  if a.created ~= b.created then return a.created > b.created end
  return before(b.id, a.id)
end
local heap = matches
local function down(k)
  local n = #heap
  while true do
    local l, r, top = 2 * k, 2 * k + 1, k
    if l <= n and better(heap[l], heap[top]) then top = l end
    if r <= n and better(heap[r], heap[top]) then top = r end
    if top == k then return end
    heap[k], heap[top] = heap[top], heap[k]
    k = top
  end
end
local function up(k)
  while k > 1 do
    local parent = math.floor(k / 2)
    if not better(heap[k], heap[parent]) then return end
    heap[k], heap[parent] = heap[parent], heap[k]
    k = parent
  end
end
for k = math.floor(#heap / 2), 1, -1 do down(k) end
local textPhrase, tagPhrase = ' ' .. phrase .. ' ', '\n ' .. phrase .. ' \n'
local out = {total, #candidates}
local returned = 0
while returned < limit and #heap > 0 do
  local top = heap[1]
  heap[1] = heap[#heap]
  heap[#heap] = nil
  if #heap > 0 then down(1) end
  if top.full then
    top.full = false
    if not top.text then
      local v = redis.call('HMGET', eprefix .. top.id, 'w', 'g')
      top.text, top.tagWords = v[1] or '', v[2] or ''
    end
    if not (string.find(top.text, textPhrase, 1, true) or string.find(top.tagWords, tagPhrase, 1, true)) then
      top.rank = q
      heap[#heap + 1] = top
      up(#heap)
      top = nil
    end
  end
  if top then
    out[#out + 1] = top.id
    out[#out + 1] = read(eprefix .. top.id)
    returned = returned + 1
  end
end
return out
