import Hiredis

/// The Lua scripts behind `RedisAdapter`. Each multi-key change is one script (one round trip, atomic).
/// Keys that a script derives (an evicted entry, its tag indexes) are built from prefixes passed in ARGV,
/// all inside the namespace's hash tag, so they are on the script's cluster slot.
enum MemoryScripts {
    /// Shared helpers: `read` returns an entry's fields in `EntryCodec.readOrder` (HMGET: no search text
    /// `w`, which only the server needs); `extend` moves a key's expiry later (never earlier); `unlink` removes
    /// an entry and its index memberships; `prune` drops expired ids from the tier and priority indexes.
    private static let helpers = """
    local function read(key)
      return redis.call('HMGET', key, \(EntryCodec.readOrder.map { "'\($0)'" }.joined(separator: ", ")))
    end
    local function extend(key, at)
      local current = redis.call('PEXPIRETIME', key)
      if current < 0 or current < at then redis.call('PEXPIREAT', key, at) end
    end
    local function unlink(id, eprefix, tprefix, tierIndex, priorityIndex)
      local ekey = eprefix .. id
      local tags = redis.call('HGET', ekey, 'k')
      if tags then
        for hex in string.gmatch(tags, '[^,]+') do redis.call('ZREM', tprefix .. hex, id) end
      end
      redis.call('DEL', ekey)
      redis.call('ZREM', tierIndex, id)
      redis.call('ZREM', priorityIndex, id)
    end
    local function prune(tierIndex, priorityIndex, now)
      local expired = redis.call('ZRANGEBYSCORE', tierIndex, '-inf', now)
      if #expired > 0 then
        for _, old in ipairs(expired) do redis.call('ZREM', priorityIndex, old) end
        redis.call('ZREMRANGEBYSCORE', tierIndex, '-inf', now)
      end
    end

    """

    /// Stores an entry, indexes it, applies the cap. Returns the evicted ids.
    /// KEYS[1] entry hash, KEYS[2] tier index, KEYS[3] priority index, KEYS[4...] tag indexes.
    /// ARGV[1] id, ARGV[2] now ms, ARGV[3] expiry ms, ARGV[4] cap (0: none), ARGV[5] entry key prefix,
    /// ARGV[6] tag key prefix, ARGV[7] importance, ARGV[8...] hash field/value pairs.
    static let store = RedisScript(helpers + """
    local id, now, expiry, cap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
    prune(KEYS[2], KEYS[3], now)
    if redis.call('EXISTS', KEYS[1]) == 1 then unlink(id, ARGV[5], ARGV[6], KEYS[2], KEYS[3]) end
    redis.call('HSET', KEYS[1], unpack(ARGV, 8))
    redis.call('PEXPIREAT', KEYS[1], expiry)
    redis.call('ZADD', KEYS[2], expiry, id)
    extend(KEYS[2], expiry)
    redis.call('ZADD', KEYS[3], ARGV[7], id)
    extend(KEYS[3], expiry)
    for i = 4, #KEYS do
      redis.call('ZADD', KEYS[i], expiry, id)
      extend(KEYS[i], expiry)
    end
    local evicted = {}
    if cap > 0 then
      local live = redis.call('ZCARD', KEYS[2])
      while live > cap do
        local victim = redis.call('ZRANGE', KEYS[3], 0, 0)[1]
        if not victim then break end
        unlink(victim, ARGV[5], ARGV[6], KEYS[2], KEYS[3])
        evicted[#evicted + 1] = victim
        live = live - 1
      end
    end
    return evicted
    """)

    /// Reads an entry, records the access, and extends its expiry (never shortens). Returns its fields or nil.
    /// KEYS[1] entry hash, KEYS[2] tier index, KEYS[3] priority index.
    /// ARGV[1] id, ARGV[2] now ms, ARGV[3] new expiry ms (0: no refresh), ARGV[4] tag key prefix.
    static let get = RedisScript(helpers + """
    if redis.call('EXISTS', KEYS[1]) == 0 then return false end
    redis.call('HINCRBY', KEYS[1], 'a', 1)
    redis.call('HSET', KEYS[1], 'l', ARGV[2])
    local target = tonumber(ARGV[3])
    if target > 0 and target > tonumber(redis.call('HGET', KEYS[1], 'e')) then
      redis.call('HSET', KEYS[1], 'e', ARGV[3])
      redis.call('PEXPIREAT', KEYS[1], target)
      redis.call('ZADD', KEYS[2], 'XX', 'GT', target, ARGV[1])
      extend(KEYS[2], target)
      extend(KEYS[3], target)
      local tags = redis.call('HGET', KEYS[1], 'k')
      if tags then
        for hex in string.gmatch(tags, '[^,]+') do
          redis.call('ZADD', ARGV[4] .. hex, 'XX', 'GT', target, ARGV[1])
          extend(ARGV[4] .. hex, target)
        end
      end
    end
    return read(KEYS[1])
    """)

    /// Removes an entry and its index memberships. Returns 1 if it existed.
    /// KEYS[1] entry hash, KEYS[2] tier index, KEYS[3] priority index. ARGV[1] id, ARGV[2] entry prefix, ARGV[3] tag prefix.
    static let forget = RedisScript(helpers + """
    local existed = redis.call('EXISTS', KEYS[1])
    unlink(ARGV[1], ARGV[2], ARGV[3], KEYS[2], KEYS[3])
    return existed
    """)

    /// Live entries by tags (AND, then OR) or the whole tier; prunes the indexes it reads.
    /// KEYS[1] tier index, KEYS[2] priority index, KEYS[3...] tag indexes: the first ARGV[2] are AND, the rest OR.
    /// ARGV[1] now ms, ARGV[2] number of AND tag keys, ARGV[3] entry key prefix, ARGV[4...] query words: when
    /// given, only entries whose search text (`w`) contains one of them are returned.
    /// Returns a flat array: id, fields, id, fields, ...
    static let query = RedisScript(helpers + """
    local now, nall, eprefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
    prune(KEYS[1], KEYS[2], now)
    local all, any = {}, {}
    for i = 3, #KEYS do
      redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now)
      if i - 2 <= nall then all[#all + 1] = KEYS[i] else any[#any + 1] = KEYS[i] end
    end
    local ids
    if #all > 0 then
      table.sort(all, function(a, b) return redis.call('ZCARD', a) < redis.call('ZCARD', b) end)
      ids = {}
      for _, id in ipairs(redis.call('ZRANGE', all[1], 0, -1)) do
        local keep = true
        for j = 2, #all do
          if not redis.call('ZSCORE', all[j], id) then keep = false break end
        end
        if keep then ids[#ids + 1] = id end
      end
    elseif #any > 0 then
      ids = {}
      local seen = {}
      for _, key in ipairs(any) do
        for _, id in ipairs(redis.call('ZRANGE', key, 0, -1)) do
          if not seen[id] then seen[id] = true ids[#ids + 1] = id end
        end
      end
      any = {}
    else
      ids = redis.call('ZRANGE', KEYS[1], 0, -1)
    end
    local out = {}
    for _, id in ipairs(ids) do
      local keep = #any == 0
      for _, key in ipairs(any) do
        if redis.call('ZSCORE', key, id) then keep = true break end
      end
      if keep and #ARGV > 3 then
        local text = redis.call('HGET', eprefix .. id, 'w')
        keep = false
        if text then
          for w = 4, #ARGV do
            if string.find(text, ARGV[w], 1, true) then keep = true break end
          end
        end
      end
      if keep then
        local fields = read(eprefix .. id)
        if fields[1] then
          out[#out + 1] = id
          out[#out + 1] = fields
        end
      end
    end
    return out
    """)

    /// The number of live entries. KEYS[1] tier index, KEYS[2] priority index. ARGV[1] now ms.
    static let count = RedisScript(helpers + """
    prune(KEYS[1], KEYS[2], tonumber(ARGV[1]))
    return redis.call('ZCARD', KEYS[1])
    """)

    /// Removes every entry of the tier. KEYS[1] tier index, KEYS[2] priority index.
    /// ARGV[1] now ms, ARGV[2] entry prefix, ARGV[3] tag prefix. Returns how many were live.
    static let clear = RedisScript(helpers + """
    local live = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf')
    for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
      unlink(id, ARGV[2], ARGV[3], KEYS[1], KEYS[2])
    end
    redis.call('DEL', KEYS[1], KEYS[2])
    return live
    """)
}
