import CHiredis
import Dispatch
import Foundation
import Histogram
import Synchronization

/// The floor for any client over hiredis: a blocking `redisCommandArgv` loop on one connection.
struct HiredisSyncBaseline {
    let host: String
    let port: Int

    /// Runs `command`'s steps (one by one, or appended then read when `pipelined`), one operation after another,
    /// for the limits, on `concurrency` threads with a connection each (a thread-per-connection C client: the
    /// floor at that concurrency for what redis-benchmark cannot run, a sequence or a mixed pipeline). A
    /// `uniqueMarker` in an argument becomes a per-operation counter, set before the clock starts.
    func run(_ command: BaselineCommand, concurrency: Int = 1, limits: RunLimits) throws(BenchError) -> WorkloadRunner.Measurement {
        let start = DispatchTime.now().uptimeNanoseconds
        let window = Window(
            measureFrom: start + limits.warmup.nanoseconds,
            measureUntil: start + limits.warmup.nanoseconds + limits.duration.nanoseconds,
            quota: limits.maxOperations.map { max(1, $0 / concurrency) } ?? Int.max)
        if concurrency == 1 { return try loop(command, window: window, counterBase: 0) }
        let outcomes = Mutex<[Result<WorkloadRunner.Measurement, BenchError>]>([])
        let done = DispatchGroup()
        for index in 0..<concurrency {
            done.enter()
            let thread = Thread { [self] in
                // Each thread counts in its own range, so unique arguments never collide.
                let outcome = Result { () throws(BenchError) in try loop(command, window: window, counterBase: index * 1_000_000_000) }
                outcomes.withLock { $0.append(outcome) }
                done.leave()
            }
            thread.start()
        }
        done.wait()
        var merged = WorkloadRunner.newHistogram()
        var elapsed: UInt64 = 0
        for outcome in outcomes.withLock({ $0 }) {
            let measurement = try outcome.get()
            merged.add(measurement.histogram)
            elapsed = max(elapsed, measurement.elapsedNanoseconds)
        }
        return WorkloadRunner.Measurement(histogram: merged, elapsedNanoseconds: elapsed)
    }

    /// When one run measures, shared by its threads.
    private struct Window: Sendable {
        let measureFrom: UInt64
        let measureUntil: UInt64
        let quota: Int
    }

    /// One connection's closed loop.
    private func loop(_ command: BaselineCommand, window: Window, counterBase: Int) throws(BenchError) -> WorkloadRunner.Measurement {
        guard let context = redisConnect(host, Int32(port)) else { throw BenchError("hiredis could not allocate a context") }
        defer { redisFree(context) }
        if context.pointee.err != 0 {
            let reason = withUnsafeBytes(of: context.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw BenchError("cannot reach Redis at \(host):\(port) with hiredis: \(reason)")
        }
        let unique = command.hasUniqueMarker
        let marker = Array(BaselineCommand.uniqueMarker.utf8)
        var steps = command.steps.map(ArgumentVector.init)

        var histogram = WorkloadRunner.newHistogram()
        var now = DispatchTime.now().uptimeNanoseconds
        var lastFinish = window.measureFrom
        var operation = counterBase
        // At least one measured operation, however long one takes (a 1,000-entry import outlasts a short window).
        while (now < window.measureUntil || histogram.totalCount == 0) && Int(histogram.totalCount) < window.quota {
            if unique {
                let counter = Array(String(operation).utf8)
                steps = command.steps.map { ArgumentVector($0.map { $0.replacing(marker, with: counter) }) }
                operation += 1
                now = DispatchTime.now().uptimeNanoseconds
            }
            let began = now
            if command.pipelined {
                for step in steps { step.append(on: context) }
                for _ in steps {
                    var reply: UnsafeMutableRawPointer?
                    guard redisGetReply(context, &reply) == REDIS_OK, let reply else {
                        throw BenchError("hiredis lost the connection to \(host):\(port)")
                    }
                    freeReplyObject(reply)
                }
            } else {
                for step in steps {
                    guard let reply = step.send(on: context) else { throw BenchError("hiredis lost the connection to \(host):\(port)") }
                    freeReplyObject(reply)
                }
            }
            now = DispatchTime.now().uptimeNanoseconds
            if began >= window.measureFrom {
                _ = histogram.record(now - began)
                lastFinish = now
            }
        }
        return WorkloadRunner.Measurement(histogram: histogram, elapsedNanoseconds: lastFinish - window.measureFrom)
    }
}

/// One command as the `argv`/`argvlen` arrays `redisCommandArgv` takes; owns the copies it points at.
private final class ArgumentVector {
    private let pointers: [UnsafeMutablePointer<CChar>]
    private var argv: [UnsafePointer<CChar>?]
    private let lengths: [Int]

    init(_ arguments: [[UInt8]]) {
        lengths = arguments.map(\.count)
        pointers = arguments.map { bytes in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
            bytes.withUnsafeBufferPointer { source in
                source.withMemoryRebound(to: CChar.self) { chars in
                    if let base = chars.baseAddress { pointer.initialize(from: base, count: bytes.count) }
                }
            }
            return pointer
        }
        argv = pointers.map { UnsafePointer($0) }
    }

    deinit { pointers.forEach { $0.deallocate() } }

    /// Sends the command and waits for its reply; `nil` when the connection failed. Free the reply.
    func send(on context: UnsafeMutablePointer<redisContext>) -> UnsafeMutableRawPointer? {
        redisCommandArgv(context, Int32(lengths.count), &argv, lengths)
    }

    /// Adds the command to the output buffer; the first `redisGetReply` writes everything appended.
    func append(on context: UnsafeMutablePointer<redisContext>) {
        _ = redisAppendCommandArgv(context, Int32(lengths.count), &argv, lengths)
    }
}
