/// Gathers the replies of one `pipeline` call and resumes its caller once, when the last one is accounted for.
///
/// Confined to the connection's queue (only `ConnectionCore` touches it, there).
final class PipelineCollector {
    private var replies: [RedisReply] = []
    private var remaining: Int
    private var failure: RedisError?
    private let continuation: UnsafeContinuation<[RedisReply], any Error>

    init(count: Int, continuation: UnsafeContinuation<[RedisReply], any Error>) {
        remaining = count
        self.continuation = continuation
        replies.reserveCapacity(count)
    }

    /// The next reply, in request order; `true` when it was the last.
    @discardableResult
    func deliver(_ reply: RedisReply) -> Bool {
        replies.append(reply)
        return finishIfDone(1)
    }

    /// `count` commands will get no reply; the whole pipeline fails with the first such error.
    func fail(_ error: RedisError, count: Int) {
        if failure == nil { failure = error }
        finishIfDone(count)
    }

    @discardableResult
    private func finishIfDone(_ accounted: Int) -> Bool {
        remaining -= accounted
        guard remaining == 0 else { return false }
        if let failure {
            continuation.resume(throwing: failure)
        } else {
            continuation.resume(returning: replies)
        }
        return true
    }
}
