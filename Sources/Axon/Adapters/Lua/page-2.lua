-- One page of a tier's live entries (for export): ZSCAN of the tier index from a cursor.
-- KEYS[1] tier index i, KEYS[2] ranking hash r. ARGV[1] cursor, ARGV[2] page size hint, ARGV[3] now ms,
-- ARGV[4] entry hash prefix.
-- Returns {next cursor ("0" at the end), id, record, body, id, record, body, ...} (EntryCodec.entry).
--@include helpers
local now = number(ARGV[3], 'now')
local reply = redis.call('ZSCAN', KEYS[1], ARGV[1], 'COUNT', ARGV[2])
local out = {reply[1]}
local items = reply[2]
-- The live ids' bodies and records, one call each.
local ids, names = {}, {}
for k = 1, #items, 2 do
  if tonumber(items[k + 1]) > now then
    ids[#ids + 1] = items[k]
    names[#names + 1] = bodyKey(ARGV[4], items[k])
  end
end
if #ids == 0 then return out end
local bodies = redis.call('MGET', unpack(names))
local records = redis.call('HMGET', KEYS[2], unpack(ids))
local j = 0
for k = 1, #items, 2 do
  if tonumber(items[k + 1]) > now then
    j = j + 1
    local body, record = bodies[j], records[j]
    if body and record then
      out[#out + 1] = items[k]
      out[#out + 1] = record
      out[#out + 1] = body
    end
  end
end
return out
