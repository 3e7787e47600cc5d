import Axon
import Foundation
import Hiredis
import Hummingbird
import NIOCore

/// One conversation turn, as posted and as stored with its entry (`MemoryEntry.value(as:)`).
struct Turn: Codable, Sendable, ResponseEncodable {
    var user: String
    var role: String
    var text: String
}

/// The answer to a stored turn.
struct Stored: Codable, Sendable, ResponseEncodable {
    var id: String
}

/// A session's turns, oldest first, or the best matches of a recall.
struct Turns: Codable, Sendable, ResponseEncodable {
    var turns: [Turn]
}

enum Routes {
    static func router(_ service: ServiceContext) -> Router<BasicRequestContext> {
        let router = Router()

        // POST /sessions/{id}/turns  {"user": "u1", "role": "user", "text": "..."}
        // Rate-limited per user (429 with Retry-After), and appended under the session's lock so that concurrent
        // posts to one session are stored one after the other.
        router.post("sessions/:session/turns") { request, context -> Response in
            let session = try context.parameters.require("session")
            let turn = try await request.decode(as: Turn.self, context: context)
            guard !turn.user.isEmpty, !turn.text.isEmpty else { throw HTTPError(.badRequest, message: "user and text are required") }
            let decision = try await service.limiter.check(turn.user)
            guard decision.allowed else {
                // Whole seconds, at least 1, at most the limiter's longest period (366 days): never a trap.
                let seconds = Int(min(max(1, (decision.retryAfter / .seconds(1)).rounded(.up)), 31_622_400))
                return Response(status: .tooManyRequests, headers: [.retryAfter: String(seconds)])
            }
            let id = try await service.locks.withLock("session:" + session, ttl: .seconds(5), timeout: .seconds(2)) { _ in
                try await service.memory.store(
                    turn.text, value: turn, importance: 0.5, tier: .session, tags: [turn.role], userID: turn.user, sessionID: session)
            }
            return try Stored(id: id).response(from: request, context: context).withStatus(.created)
        }

        // GET /sessions/{id}/history?limit=N: the session's turns in the order they were stored.
        router.get("sessions/:session/history") { request, context -> Turns in
            let session = try context.parameters.require("session")
            let limit = request.uri.queryParameters.get("limit", as: Int.self) ?? 100
            guard (1...1000).contains(limit) else { throw HTTPError(.badRequest, message: "limit is 1...1000") }
            let entries = try await service.memory.history(sessionID: session, tier: .session, limit: limit)
            return Turns(turns: try entries.compactMap { try $0.value(as: Turn.self) })
        }

        // GET /sessions/{id}/recall?q=...: the session's turns that best match the query.
        router.get("sessions/:session/recall") { request, context -> Turns in
            let session = try context.parameters.require("session")
            let query = request.uri.queryParameters.get("q") ?? ""
            let entries = try await service.memory.recall(query, tier: .session, filter: MemoryFilter(sessionID: session), limit: 10)
            return Turns(turns: try entries.compactMap { try $0.value(as: Turn.self) })
        }

        // GET /metrics: every metric in Prometheus' text format.
        router.get("metrics") { _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                body: .init(byteBuffer: ByteBuffer(bytes: service.registry.emitToBuffer())))
        }

        // GET /health: 200 when Redis answers.
        router.get("health") { _, _ -> String in
            _ = try await service.pool.send("PING")
            return "ok"
        }
        return router
    }
}

extension Response {
    fileprivate func withStatus(_ status: HTTPResponse.Status) -> Response {
        var response = self
        response.status = status
        return response
    }
}
