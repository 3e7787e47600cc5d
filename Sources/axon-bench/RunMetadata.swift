import CHiredis
import Foundation
import Hiredis

/// What a JSON file records about its run, so two files can be compared later (`axon-bench compare`).
struct RunMetadata: Codable, Sendable, Equatable {
    /// When the run started (ISO 8601, UTC).
    var date: String
    /// Processors the host offers this process.
    var hostCPUs: Int
    /// `uname -sr` and the machine type.
    var system: String
    /// The Swift compiler that built axon-bench.
    var swift: String
    /// The hiredis headers it was built against.
    var hiredis: String
    /// `redis_version` from `INFO server` (`unknown` when INFO is disabled).
    var redisServer: String
    /// The command-line arguments of the run.
    var arguments: [String]
    /// Rounds per row (each: ours, then its baselines).
    var rounds: Int

    enum CodingKeys: String, CodingKey {
        case date, system, swift, hiredis, arguments, rounds
        case hostCPUs = "host_cpus"
        case redisServer = "redis_server"
    }

    static func collect(options: BenchOptions, connection: RedisConnection) async -> RunMetadata {
        var version = "unknown"
        if let info = try? await connection.send("INFO", "server").string(),
           let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("redis_version:") }) {
            version = String(line.dropFirst("redis_version:".count))
        }
        return RunMetadata(
            date: ISO8601DateFormatter().string(from: Date()), hostCPUs: ProcessInfo.processInfo.activeProcessorCount,
            system: systemName(), swift: compilerVersion, hiredis: "\(HIREDIS_MAJOR).\(HIREDIS_MINOR).\(HIREDIS_PATCH)",
            redisServer: version, arguments: Array(CommandLine.arguments.dropFirst()), rounds: options.rounds)
    }

    private static func systemName() -> String {
        var name = utsname()
        guard uname(&name) == 0 else { return "unknown" }
        func field<T>(_ value: T) -> String {
            withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        return "\(field(name.sysname)) \(field(name.release)) \(field(name.machine))"
    }

    /// The compiler's version, to the minor release.
    static var compilerVersion: String {
        #if compiler(>=6.4)
            "6.4 or later"
        #elseif compiler(>=6.3)
            "6.3"
        #elseif compiler(>=6.2)
            "6.2"
        #elseif compiler(>=6.1)
            "6.1"
        #else
            "6.0"
        #endif
    }
}
