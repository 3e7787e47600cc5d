import ArgumentParser
import Foundation
import Hiredis

/// `axon-bench`: latency tables for the connection, the pool and the memory layer, beside baselines; `compare`
/// sets two of its JSON files side by side.
@main
struct AxonBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "axon-bench",
        abstract: "Prints latency tables (p50/p90/p99/p99.9/max, ops/s) for Axon's Redis workloads beside baselines.",
        subcommands: [Measure.self, Compare.self],
        defaultSubcommand: Measure.self)

    /// Parses and runs; any failure (bad option, unreachable server) is one line on stderr and exit code 1
    /// (64 for usage errors), never a stack trace or a usage dump.
    static func main() async {
        do {
            var command = try parseAsRoot(joiningNegativeNumbers(Array(CommandLine.arguments.dropFirst())))
            if var asynchronous = command as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))  // --help, --version
            } else {
                FileHandle.standardError.write(Data("axon-bench: \(message(for: error))\n".utf8))
            }
            exit(withError: code == .success ? nil : ExitCode(code.rawValue))
        }
    }
}

extension AxonBench {
    /// `--duration -1` as `--duration=-1`: ArgumentParser reads a value starting with `-` as an option and would
    /// say the value is missing; joined, validation says what is wrong with the number.
    static func joiningNegativeNumbers(_ arguments: [String]) -> [String] {
        var joined: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--"), !argument.contains("="), index + 1 < arguments.count,
               let next = arguments[index + 1].first, next == "-", arguments[index + 1].dropFirst().first?.isNumber == true {
                joined.append(argument + "=" + arguments[index + 1])
                index += 2
            } else {
                joined.append(argument)
                index += 1
            }
        }
        return joined
    }
}

/// `axon-bench [run] [options]`: measures and prints the tables (the default subcommand).
struct Measure: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Measures every selected workload beside its baselines and prints the tables (the default).")

    @OptionGroup var options: BenchOptions

    func run() async throws {
        do {
            try await BenchSuite(options: options).run()
        } catch let error as BenchError {
            throw ValidationFailure(error.description)
        } catch let error as RedisError {
            throw ValidationFailure(error.message)
        }
    }
}

/// An error ArgumentParser prints as one line (`Error: ...`) with exit code 1.
struct ValidationFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The command-line options.
struct BenchOptions: ParsableArguments {
    @Option(help: "Redis host (default: REDIS_HOST, REDIS_URL, or 127.0.0.1).")
    var host: String?

    @Option(help: "Redis port (default: REDIS_PORT, REDIS_URL, or 6379).")
    var port: Int?

    @Option(help: "Measured seconds per workload and concurrency.")
    var duration: Double = 1.0

    @Option(help: "Unmeasured warm-up seconds before each measurement.")
    var warmup: Double = 0.2

    @Option(help: "Stop each measurement after this many operations (in total over all tasks).")
    var operations: Int?

    @Option(name: .customLong("value-size"), help: "Bytes per stored value.")
    var valueSize: Int = 32

    @Option(help: "Comma-separated concurrency levels (tasks in flight).")
    var concurrency: String = "1,64"

    @Option(help: "Comma-separated substrings; only workloads whose name contains one of them run ('=name' matches exactly).")
    var filter: String?

    @Option(help: "Also write the results as a JSON array to this file.")
    var json: String?

    @Option(help: "Also write a latency-by-percentile SVG plot to this file.")
    var svg: String?

    @Option(help: "Rounds per row: each runs ours, then its baselines, for duration/rounds; ratios are medians over the rounds.")
    var rounds: Int = 3

    @Flag(name: .customLong("no-baselines"), help: "Skip the hiredis-sync and redis-benchmark baselines.")
    var noBaselines = false

    @Option(help: "Redis Cluster seed nodes host:port,... for the cluster rows (default: REDIS_CLUSTER_NODES; none: no cluster rows).")
    var cluster: String?

    /// The cluster the cluster rows use, if any.
    func clusterConfiguration() throws(RedisError) -> RedisClusterConfiguration? {
        var configuration: RedisClusterConfiguration?
        if let cluster {
            configuration = try RedisClusterConfiguration(url: "redis+cluster://" + cluster)
        } else {
            configuration = try RedisClusterConfiguration.fromEnvironment()
        }
        configuration?.node.connectTimeout = .seconds(3)
        return configuration
    }

    @Option(name: .customLong("tls"), help: "A TLS redis-server for the tls rows: host:tlsPort:plainPort:caFile (default: REDIS_TLS_TEST_PORT, REDIS_TLS_TEST_PLAIN_PORT and REDIS_TLS_TEST_CERTS/ca.pem from scripts/with-tls.sh; none: no tls rows).")
    var tls: String?

    /// The TLS server of the tls rows: its TLS and plaintext configurations, if any.
    func tlsServer() throws -> (tls: RedisConfiguration, plain: RedisConfiguration)? {
        let host: String, tlsPort: Int, plainPort: Int, caFile: String
        if let tls {
            let parts = tls.split(separator: ":", maxSplits: 3).map(String.init)
            guard parts.count == 4, let secure = Int(parts[1]), let plain = Int(parts[2]) else {
                throw BenchError("--tls must be host:tlsPort:plainPort:caFile, got '\(tls)'")
            }
            (host, tlsPort, plainPort, caFile) = (parts[0], secure, plain, parts[3])
        } else {
            let environment = ProcessInfo.processInfo.environment
            guard let secure = environment["REDIS_TLS_TEST_PORT"].flatMap(Int.init), let plain = environment["REDIS_TLS_TEST_PLAIN_PORT"].flatMap(Int.init),
                  let certificates = environment["REDIS_TLS_TEST_CERTS"] else { return nil }
            (host, tlsPort, plainPort, caFile) = ("127.0.0.1", secure, plain, certificates + "/ca.pem")
        }
        let plain = RedisConfiguration(host: host, port: plainPort, connectTimeout: .seconds(3))
        var secure = plain
        secure.endpoint = .tcp(host: host, port: tlsPort)
        secure.tls = RedisTLSConfiguration(caFile: caFile)
        return (secure, plain)
    }

    @Option(name: .customLong("recall-sizes"), help: "Comma-separated entry counts of the tiers the recall rows search.")
    var recallSizes: String = "10000,100000"

    /// The parsed recall tier sizes.
    var recallTierSizes: [Int] {
        recallSizes.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// The parsed concurrency levels.
    var concurrencyLevels: [Int] {
        concurrency.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    /// The filter's substrings (empty: everything).
    var filters: [String] {
        (filter ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// Whether `--filter` selects the workload named `name`.
    func selects(_ name: String) -> Bool {
        filters.isEmpty || filters.contains { $0.hasPrefix("=") ? name == $0.dropFirst() : name.contains($0) }
    }

    mutating func validate() throws {
        let levels = concurrency.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !levels.isEmpty, levels.allSatisfy({ Int($0).map { (1...10_000).contains($0) } ?? false }) else {
            throw ValidationError("--concurrency must be a comma-separated list of integers 1...10000, got '\(concurrency)'")
        }
        guard duration > 0, duration.isFinite else { throw ValidationError("--duration must be a positive number of seconds, got \(duration)") }
        guard warmup >= 0, warmup.isFinite else { throw ValidationError("--warmup must be zero or more seconds, got \(warmup)") }
        if let operations, operations < 1 { throw ValidationError("--operations must be at least 1, got \(operations)") }
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds must be 1...100, got \(rounds)") }
        guard (0...(64 << 20)).contains(valueSize) else { throw ValidationError("--value-size must be 0...67108864 bytes, got \(valueSize)") }
        if let port, !(1...65535).contains(port) { throw ValidationError("--port must be 1...65535, got \(port)") }
        if let host, host.isEmpty { throw ValidationError("--host must not be empty") }
        let sizes = recallSizes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !sizes.isEmpty, sizes.allSatisfy({ Int($0).map { (20...10_000_000).contains($0) } ?? false }) else {
            throw ValidationError("--recall-sizes must be a comma-separated list of integers 20...10000000, got '\(recallSizes)'")
        }
    }

    /// Where to connect: the environment, overridden by `--host` / `--port`.
    func redisConfiguration() throws(RedisError) -> RedisConfiguration {
        var configuration = try RedisConfiguration.fromEnvironment()
        if case .tcp(let envHost, let envPort) = configuration.endpoint {
            let defaultHost = ProcessInfo.processInfo.environment["REDIS_HOST"] == nil
                && ProcessInfo.processInfo.environment["REDIS_URL"] == nil ? "127.0.0.1" : envHost
            configuration.endpoint = .tcp(host: host ?? defaultHost, port: port ?? envPort)
        }
        configuration.connectTimeout = .seconds(3)
        return configuration
    }

    var limits: RunLimits {
        RunLimits(duration: .milliseconds(Int(duration * 1000)), warmup: .milliseconds(Int(warmup * 1000)), maxOperations: operations)
    }
}
