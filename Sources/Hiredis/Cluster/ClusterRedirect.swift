/// What a cluster node's error reply asks of the client: follow a redirect, wait and retry, or nothing.
enum ClusterRedirect: Equatable {
    /// `MOVED <slot> <host:port>`: the slot lives there now; update the map and resend there.
    case moved(slot: Int, node: ClusterTopology.Node)
    /// `ASK <slot> <host:port>`: this once, send `ASKING` then the command there (a slot being migrated).
    case ask(node: ClusterTopology.Node)
    /// `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, `MASTERDOWN`: a transient state; retry after a short wait.
    case retry(reason: String)

    /// The redirect an error reply (`message`, without the `-`) asks for, if any.
    init?(errorMessage message: String) {
        let words = message.split(separator: " ")
        guard let first = words.first else { return nil }
        switch first {
        case "MOVED", "ASK":
            guard words.count >= 3, let slot = Int(words[1]), let node = ClusterTopology.Node(address: words[2]) else { return nil }
            self = first == "MOVED" ? .moved(slot: slot, node: node) : .ask(node: node)
        case "TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN":
            self = .retry(reason: String(first))
        default:
            return nil
        }
    }
}
