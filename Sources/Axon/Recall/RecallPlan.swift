/// Which index members a recall examines: the rule both adapters follow (the Lua recall script is its twin).
///
/// Every tier keeps one index set per tag (`tag`), user (`user`), session (`session`) and word (`word`), plus
/// one of every entry (`all`). A query's candidate options, in this order: each tag of `filter.tags`, the
/// user, the session (each must contain a match), the union of `filter.anyTags`, the union of the query's
/// words (when the tier indexes words). The option with the fewest members wins (the first on a tie); with
/// no option, `all`. When the winner has at most `budget` members (a union counts the sum of its parts) they
/// are all examined and the result is exact; otherwise each of its k sources contributes its ⌈budget / k⌉
/// members with the greatest ids (the newest entries, as `MemorySystem` makes ids).
package enum RecallPlan {
    /// One index set of a tier.
    package enum Source: Hashable, Sendable {
        case all
        case tag(String)
        case user(String)
        case session(String)
        case word(String)
    }

    /// The index sets an entry belongs to: `all`, each tag, its user and session, and (when the tier indexes
    /// words) each word of its profile.
    package static func sources(of entry: MemoryEntry, profile: RecallRanking.Profile, indexesWords: Bool) -> [Source] {
        var sources: [Source] = [.all]
        sources += entry.tags.map(Source.tag)
        if let user = entry.userID { sources.append(.user(user)) }
        if let session = entry.sessionID { sources.append(.session(session)) }
        if indexesWords {
            var seen: Set<String> = []
            for word in profile.text + profile.tags.joined() where seen.insert(word).inserted { sources.append(.word(word)) }
        }
        return sources
    }

    /// The candidate options of `query`, in order of preference on a tie; each is a union of sources.
    package static func options(for query: RecallQuery, indexesWords: Bool) -> [[Source]] {
        var options: [[Source]] = query.filter.tags.map { [.tag($0)] }
        if let user = query.filter.userID { options.append([.user(user)]) }
        if let session = query.filter.sessionID { options.append([.session(session)]) }
        if !query.filter.anyTags.isEmpty { options.append(query.filter.anyTags.map(Source.tag)) }
        if indexesWords && !query.words.isEmpty { options.append(query.distinctWords.map(Source.word)) }
        return options.isEmpty ? [[.all]] : options
    }

    /// The chosen option and its size (the sum of its sources' sizes).
    package static func choose(_ options: [[Source]], size: (Source) -> Int) -> (sources: [Source], size: Int) {
        var best: (sources: [Source], size: Int)?
        for option in options {
            let total = option.reduce(0) { $0 + size($1) }
            if let current = best, current.size <= total { continue }
            best = (option, total)
        }
        return best ?? ([.all], size(.all))
    }

    /// The ids to examine from `members` of the chosen sources: all of them (deduplicated) when their total fits
    /// `budget`, else each source's ⌈budget / sources⌉ greatest ids.
    package static func candidates(_ members: [[String]], total: Int, budget: Int) -> [String] {
        let share = total > budget ? (budget + members.count - 1) / max(members.count, 1) : nil
        var seen: Set<String> = []
        var ids: [String] = []
        for list in members {
            let taken = share.map { Array(list.sorted { RecallRanking.idBefore($1, $0) }.prefix($0)) } ?? list
            for id in taken where seen.insert(id).inserted { ids.append(id) }
        }
        return ids
    }
}
