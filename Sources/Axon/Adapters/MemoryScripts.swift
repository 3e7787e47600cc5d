import Hiredis

/// The Lua scripts behind `RedisAdapter`, one per operation (one round trip, atomic). Their sources are the
/// files in `Adapters/Lua` (each opens with its KEYS and ARGV, slot by slot), embedded by
/// `scripts/embed-lua.py`. Keys a script derives (entry hashes found through an index) are built from
/// prefixes passed in ARGV, all inside the namespace's hash tag, so they are on the script's cluster slot.
enum MemoryScripts {
    static let store = RedisScript(storeSource)
    static let storeMany = RedisScript(storeManySource)
    static let get = RedisScript(getSource)
    static let forget = RedisScript(forgetSource)
    static let recall = RedisScript(recallSource)
    static let page = RedisScript(pageSource)
    static let clear = RedisScript(clearSource)
    static let sweep = RedisScript(sweepSource)
    static let rebuild = RedisScript(rebuildSource)

    /// Every script with its name, for tools that read a server's slow log (`axon-bench`).
    static let named: [(name: String, script: RedisScript)] = [
        ("store", store), ("storeMany", storeMany), ("get", get), ("forget", forget), ("recall", recall), ("page", page),
        ("clear", clear), ("sweep", sweep), ("rebuild", rebuild),
    ]
}
