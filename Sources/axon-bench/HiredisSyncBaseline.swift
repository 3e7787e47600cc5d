import CHiredis
import Dispatch
import Histogram

/// The floor for any client over hiredis: a blocking `redisCommandArgv` loop on one connection.
struct HiredisSyncBaseline {
    let host: String
    let port: Int

    /// Runs `arguments` sequentially for the limits and returns the latency histogram.
    func run(_ arguments: [[UInt8]], limits: RunLimits) throws(BenchError) -> WorkloadRunner.Measurement {
        guard let context = redisConnect(host, Int32(port)) else { throw BenchError("hiredis could not allocate a context") }
        defer { redisFree(context) }
        if context.pointee.err != 0 {
            let reason = withUnsafeBytes(of: context.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            throw BenchError("cannot reach Redis at \(host):\(port) with hiredis: \(reason)")
        }
        let count = Int32(arguments.count)
        let lengths = arguments.map(\.count)
        let pointers = arguments.map { bytes -> UnsafeMutablePointer<CChar> in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
            bytes.withUnsafeBufferPointer { source in
                source.withMemoryRebound(to: CChar.self) { chars in
                    if let base = chars.baseAddress { pointer.initialize(from: base, count: bytes.count) }
                }
            }
            return pointer
        }
        defer { pointers.forEach { $0.deallocate() } }
        var argv = pointers.map { UnsafePointer($0) as UnsafePointer<CChar>? }

        var histogram = WorkloadRunner.newHistogram()
        let start = DispatchTime.now().uptimeNanoseconds
        let measureFrom = start + limits.warmup.nanoseconds
        let measureUntil = measureFrom + limits.duration.nanoseconds
        let quota = limits.maxOperations ?? Int.max
        var now = start
        var lastFinish = measureFrom
        while now < measureUntil && Int(histogram.totalCount) < quota {
            let began = now
            guard let reply = redisCommandArgv(context, count, &argv, lengths) else {
                throw BenchError("hiredis lost the connection to \(host):\(port)")
            }
            freeReplyObject(reply)
            now = DispatchTime.now().uptimeNanoseconds
            if began >= measureFrom {
                _ = histogram.record(now - began)
                lastFinish = now
            }
        }
        return WorkloadRunner.Measurement(histogram: histogram, elapsedNanoseconds: lastFinish - measureFrom)
    }
}
