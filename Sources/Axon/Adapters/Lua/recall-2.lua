-- Recall in one tier: picks the candidates from the smallest index the query allows, filters and ranks
-- them here, and returns at most `limit` entries (RecallPlan and RecallRanking describe the rules; this is
-- their twin). At most `budget` candidates are examined, with bulk lookups (one HMGET of the ranking hash,
-- ZMSCORE for index filters) rather than calls per candidate; only the candidates that reach the top read
-- their bodies (MGET), which start with the words of the phrase check. Index members whose entry is gone are removed on the way.
-- KEYS[1] lexicographic index x, KEYS[2] ranking hash r.
-- ARGV[1] now ms, ARGV[2] entry hash prefix, ARGV[3] budget, ARGV[4] limit, ARGV[5] 1 when the tier indexes
-- words, ARGV[6] 1 with an importance range, ARGV[7] its lower and ARGV[8] upper bound (inclusive),
-- ARGV[9] 1 with a created range, ARGV[10] created at or after ms, ARGV[11] created before ms,
-- ARGV[12] the query's words joined by spaces (the phrase), then counted lists, each a count followed by its
-- items: all-of tags (hex), any-of tags (hex), user (0 or 1: hex, value), session (0 or 1: hex, value),
-- metadata (pairs: key, value), distinct query words.
-- Returns {candidates, examined, id, record, body, id, record, body, ...} (EntryCodec.entry).
--@include helpers
local x, eprefix = KEYS[1], ARGV[2]
local now, budget, limit = number(ARGV[1], 'now'), number(ARGV[3], 'budget'), number(ARGV[4], 'limit')
local indexesWords = ARGV[5] == '1'
-- (Bounds are read only when used, and an empty list is one shared table: each C call and table costs.)
local hasImportance, hasCreated = ARGV[6] == '1', ARGV[9] == '1'
local lowImportance = hasImportance and number(ARGV[7], 'importance')
local highImportance = hasImportance and number(ARGV[8], 'importance')
local createdFrom = hasCreated and number(ARGV[10], 'created')
local createdTo = hasCreated and number(ARGV[11], 'created')
local phrase = ARGV[12]
local position = 13
local none = {}
local function list(width)
  if ARGV[position] == '0' then
    position = position + 1
    return none
  end
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
-- With one option of one source there is nothing to choose: its size is counted below only when it is over budget.
local chosen, total
if #options == 1 and #options[1] == 1 then
  chosen = options[1]
else
  for _, option in ipairs(options) do
    local sum = 0
    for _, source in ipairs(option) do sum = sum + size(source) end
    if not total or sum < total then chosen, total = option, sum end
  end
end

-- The candidates (RecallPlan.candidates): every member of the chosen sources when they fit the budget,
-- else each source's ceil(budget / sources) greatest ids. `descending`: the ids came greatest first.
local ids, seen = {}, {}
local share = total and total > budget and math.ceil(budget / #chosen) or nil
local descending = share ~= nil
for _, source in ipairs(chosen) do
  local cut = #source + 2
  local found
  if not total then
    -- The one source, greatest first, one more than the budget: that one more tells it is over budget.
    found = redis.call('ZREVRANGEBYLEX', x, '(' .. source .. '\1', '[' .. source .. '\0', 'LIMIT', 0, budget + 1)
    descending = true
    if #found > budget then
      found[#found] = nil
      total, share = size(source), budget
    else
      total = #found
    end
  elseif share then
    found = redis.call('ZREVRANGEBYLEX', x, '(' .. source .. '\1', '[' .. source .. '\0', 'LIMIT', 0, share)
  else
    found = redis.call('ZRANGEBYLEX', x, '[' .. source .. '\0', '(' .. source .. '\1')
  end
  if #chosen == 1 then
    -- One source: its ids are distinct.
    for k = 1, #found do ids[k] = string.sub(found[k], cut) end
  else
    for _, member in ipairs(found) do
      local id = string.sub(member, cut)
      if not seen[id] then
        seen[id] = true
        ids[#ids + 1] = id
      end
    end
  end
end
local examined = #ids

-- Bulk lookups, in chunks: the values of `names` in hash `key`, and the ids among `list` that are members
-- of index source `source` (ZMSCORE on x).
local function values(key, names)
  local out = {}
  for first = 1, #names, 1000 do
    local part = redis.call('HMGET', key, unpack(names, first, math.min(first + 999, #names)))
    for k = 1, #part do out[first + k - 1] = part[k] end
  end
  return out
end
local function within(list, source)
  local out = {}
  for first = 1, #list, 1000 do
    local names = {}
    for k = first, math.min(first + 999, #list) do names[#names + 1] = source .. '\0' .. list[k][1] end
    local found = redis.call('ZMSCORE', x, unpack(names))
    for k = 1, #found do
      if found[k] then out[#out + 1] = list[first + k - 1] end
    end
  end
  return out
end

-- Live candidates with their ranking data; members of entries that are gone leave the index.
local list = {}
local packed = values(KEYS[2], ids)
for k, id in ipairs(ids) do
  local data = packed[k]
  if not data then
    for _, source in ipairs(chosen) do redis.call('ZREM', x, source .. '\0' .. id) end
  else
    local expiry, importance, created = struct.unpack('>ddd', data)  -- the record's first three numbers
    -- `order`: the id's place in the index (one source: index order, so ids compare as numbers).
    -- A candidate is an array (cheaper to make and read than named fields), with every slot it gets later
    -- there from the start: [1] id, [2] importance, [3] created ms, [4] place in the index, [5] rank, [6] whether
    -- it has every query word (phrase not yet checked), [7] its id as numbers (0: not computed yet), [8] its body,
    -- [9] its record.
    if expiry > now then list[#list + 1] = {id, importance, created, descending and -k or k, 0, false, 0, false, data} end
  end
end

-- Filters served by the index (the chosen source needs no check), then ranges and metadata.
local function isChosen(source) return #chosen == 1 and chosen[1] == source end
for _, hex in ipairs(allTags) do
  if not isChosen('t' .. hex) then list = within(list, 't' .. hex) end
end
if #user > 0 and not isChosen('u' .. user[1]) then list = within(list, 'u' .. user[1]) end
if #session > 0 and not isChosen('s' .. session[1]) then list = within(list, 's' .. session[1]) end
local anyChosen = #anyTags > 0
for _, source in ipairs(chosen) do
  local listed = false
  for _, hex in ipairs(anyTags) do if source == 't' .. hex then listed = true end end
  anyChosen = anyChosen and listed
end
if #anyTags > 0 and not anyChosen then
  local keep = {}
  for _, hex in ipairs(anyTags) do
    for _, candidate in ipairs(within(list, 't' .. hex)) do keep[candidate] = true end
  end
  local out = {}
  for _, candidate in ipairs(list) do if keep[candidate] then out[#out + 1] = candidate end end
  list = out
end
if hasImportance or hasCreated or #metadata > 0 then
  local out = {}
  for _, candidate in ipairs(list) do
    local keep = not hasImportance or (candidate[2] >= lowImportance and candidate[2] <= highImportance)
    if keep and hasCreated then keep = candidate[3] >= createdFrom and candidate[3] < createdTo end
    if keep and #metadata > 0 then
      local ok, decoded = pcall(cjson.decode, redis.call('HGET', eprefix .. candidate[1], 'm') or '{}')
      keep = ok and type(decoded) == 'table'
      for m = 1, #metadata, 2 do
        if not keep then break end
        keep = decoded[metadata[m]] == metadata[m + 1]
      end
    end
    if keep then out[#out + 1] = candidate end
  end
  list = out
end

-- Words: how many distinct query words each candidate has (RecallRanking.relevance). A candidate with
-- every word is assumed a phrase match until it reaches the top (checked then).
local q = #words
if q == 0 then
  for _, candidate in ipairs(list) do candidate[5] = 0 end
elseif q == 1 and isChosen('w' .. words[1]) then
  for _, candidate in ipairs(list) do candidate[5] = 2 candidate[6] = true end
else
  local found = {}
  if indexesWords then
    for _, word in ipairs(words) do
      for _, candidate in ipairs(within(list, 'w' .. word)) do found[candidate] = (found[candidate] or 0) + 1 end
    end
  else
    -- No word index: the words are in the entry (`w` text window, `g` tags' words).
    for _, candidate in ipairs(list) do
      local v = redis.call('HMGET', eprefix .. candidate[1], 'w', 'g')
      for _, word in ipairs(words) do
        local pattern = ' ' .. word .. ' '
        if string.find(v[1] or '', pattern, 1, true) or string.find(v[2] or '', pattern, 1, true) then
          found[candidate] = (found[candidate] or 0) + 1
        end
      end
    end
  end
  local out = {}
  for _, candidate in ipairs(list) do
    local n = found[candidate]
    if n then
      if n == q then candidate[5] = q + 1 candidate[6] = true else candidate[5] = n end
      out[#out + 1] = candidate
    end
  end
  list = out
end

-- Ranking (RecallRanking.ranksBefore). Ties on id: with one source, by place in the index;
-- otherwise ids MemorySystem makes (32 lowercase hex digits) compare as three numbers, other ids bytewise.
local function idKey(candidate)
  local key = candidate[7]
  if key == 0 then
    local id = candidate[1]
    key = false
    if #id == 32 and not string.find(id, '[^0-9a-f]') then
      key = {tonumber(string.sub(id, 1, 13), 16), tonumber(string.sub(id, 14, 26), 16), tonumber(string.sub(id, 27), 16)}
    end
    candidate[7] = key
  end
  return key
end
local byImportance, oneSource = q > 0, #chosen == 1
local function better(a, b)
  if a[5] ~= b[5] then return a[5] > b[5] end
  if byImportance and a[2] ~= b[2] then return a[2] > b[2] end
  if a[3] ~= b[3] then return a[3] > b[3] end
  if oneSource then return a[4] > b[4] end
  local ka, kb = idKey(a), idKey(b)
  if ka and kb then
    if ka[1] ~= kb[1] then return ka[1] > kb[1] end
    if ka[2] ~= kb[2] then return ka[2] > kb[2] end
    return ka[3] > kb[3]
  end
  return before(b[1], a[1])
end
-- Bodies and phrase checks. `readBodies` reads the bodies of `candidates` not read yet, one MGET per 1,000. `settle`
-- takes a candidate on its way out: false when its body is gone (evicted; its ranking data and the members that led
-- here go too, a sweep removes the rest), else true, after its phrase check (a candidate with every word that fails
-- it drops to its share of words; the second result says so).
local textPhrase, tagPhrase = ' ' .. phrase .. ' ', '\n ' .. phrase .. ' \n'
local bprefix = string.sub(eprefix, 1, -3) .. 'b:'
local function readBodies(candidates)
  local unread = {}
  for _, candidate in ipairs(candidates) do
    if not candidate[8] then unread[#unread + 1] = candidate end
  end
  for first = 1, #unread, 1000 do
    local names = {}
    for k = first, math.min(first + 999, #unread) do names[#names + 1] = bprefix .. unread[k][1] end
    local bodies = redis.call('MGET', unpack(names))
    for k = 1, #bodies do unread[first + k - 1][8] = bodies[k] end
  end
end
local function settle(candidate)
  if not candidate[8] then
    redis.call('HDEL', KEYS[2], candidate[1])
    for _, source in ipairs(chosen) do redis.call('ZREM', x, source .. '\0' .. candidate[1]) end
    return false, false
  end
  if candidate[6] then
    candidate[6] = false
    if not hasPhrase(candidate[8], textPhrase, tagPhrase) then
      candidate[5] = q
      return true, true
    end
  end
  return true, false
end
local out = {total, examined}
local function emit(candidate)
  out[#out + 1] = candidate[1]
  out[#out + 1] = candidate[9]
  out[#out + 1] = candidate[8]
end

-- No more candidates than the limit (a selective query): every one that still has its body is in the answer, so all
-- bodies are read at once, every phrase check is settled, and one sort orders them.
if #list <= limit then
  readBodies(list)
  local kept = {}
  for _, candidate in ipairs(list) do
    if settle(candidate) then kept[#kept + 1] = candidate end
  end
  table.sort(kept, better)
  for _, candidate in ipairs(kept) do emit(candidate) end
  return out
end

-- More: most often, one pass finds the best `limit`, kept in rank order (a candidate is first compared with the last
-- of them, so most candidates take one comparison: fewer than a heap needs). When all their bodies are there and all
-- their phrase checks pass, they are the answer; otherwise the heap below ranks again, with the checks and reads done
-- kept (a candidate without its body is dropped there).
do
  local top, n = {}, 0
  for _, candidate in ipairs(list) do
    -- Against the last kept one, `better`'s first keys compared here: most candidates lose on rank, importance or
    -- creation time without a function call (a call costs more than these comparisons).
    local enters = n < limit
    if not enters then
      local last = top[n]
      if candidate[5] ~= last[5] then
        enters = candidate[5] > last[5]
      elseif byImportance and candidate[2] ~= last[2] then
        enters = candidate[2] > last[2]
      elseif candidate[3] ~= last[3] then
        enters = candidate[3] > last[3]
      else
        enters = better(candidate, last)
      end
    end
    if enters then
      local k = n < limit and n + 1 or n
      n = k > n and k or n
      while k > 1 and better(candidate, top[k - 1]) do
        top[k] = top[k - 1]
        k = k - 1
      end
      top[k] = candidate
    end
  end
  readBodies(top)
  local clean = true
  for _, candidate in ipairs(top) do
    local live, failed = settle(candidate)
    clean = clean and live and not failed
  end
  if clean then
    for _, candidate in ipairs(top) do emit(candidate) end
    return out
  end
end

-- Else a heap gives the best `limit` in rank order. Each round pops as many as are still wanted and reads their
-- bodies; from the first candidate whose phrase check fails on, the round's candidates (checks done, bodies kept) go
-- back to the heap instead of out, so the order stays exact and each candidate is read and checked once.
local heap = list
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
local function pop()
  local top = heap[1]
  heap[1] = heap[#heap]
  heap[#heap] = nil
  if #heap > 0 then down(1) end
  return top
end
local returned = 0
while returned < limit and #heap > 0 do
  local round = {}
  while #round < limit - returned and #heap > 0 do round[#round + 1] = pop() end
  readBodies(round)
  local back = false
  for _, top in ipairs(round) do
    local live, failed = settle(top)
    back = back or failed
    if live and back then
      heap[#heap + 1] = top
      up(#heap)
    elseif live then
      emit(top)
      returned = returned + 1
    end
  end
end
return out
