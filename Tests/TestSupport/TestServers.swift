import Foundation
import Hiredis
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The shared throwaway server that `make test` starts (scripts/with-redis.sh), found through the environment.
package enum SharedServer {
    package static var host: String { ProcessInfo.processInfo.environment["REDIS_TEST_HOST"] ?? "127.0.0.1" }
    package static var port: Int { Int(ProcessInfo.processInfo.environment["REDIS_TEST_PORT"] ?? "") ?? 6379 }
    package static var socketPath: String? { ProcessInfo.processInfo.environment["REDIS_TEST_SOCKET"] }

    /// Generous timeouts: a loaded CI machine can stall the test process for seconds (see `StallMeter`).
    package static func configuration(
        database: Int = 0, commandTimeout: Duration? = .seconds(30)
    ) -> RedisConfiguration {
        RedisConfiguration(host: host, port: port, database: database, connectTimeout: .seconds(30), commandTimeout: commandTimeout)
    }

    package static func connect(database: Int = 0) async throws -> RedisConnection {
        try await RedisConnection.connect(configuration(database: database))
    }
}

/// Measures how late this process runs its work: a task sleeps 5 ms at a time, and a Dispatch timer (the
/// connections' I/O runs on Dispatch queues, which a busy process can starve while tasks still run) fires every
/// 5 ms; the worst lateness of either counts, from when the meter was made (a task that starts late counts too). A loaded CI machine can stall
/// the test process for seconds (every test runs at once on two cores); upper bounds on elapsed time add
/// `allowance`, so they show that nothing waited for a much longer timeout, not how fast the machine was.
package final class StallMeter: Sendable {
    private let worst = Locked(Duration.zero)
    /// Each heartbeat's lateness added up (task, timer).
    private let taskTotal = Locked(Duration.zero), timerTotal = Locked(Duration.zero)
    /// When each heartbeat is next due: a stall still under way counts before the heartbeat wakes from it.
    private let taskDue: Locked<ContinuousClock.Instant>
    private let timerDue: Locked<ContinuousClock.Instant>
    private let task: Task<Void, Never>
    private let timer: TimerBox

    package init() {
        let worst = self.worst
        let taskTotal = self.taskTotal, timerTotal = self.timerTotal
        let first = ContinuousClock.now + .milliseconds(5)
        let taskDue = Locked(first)
        let timerDue = Locked(first)
        self.taskDue = taskDue
        self.timerDue = timerDue
        task = Task {
            while !Task.isCancelled {
                try? await Task.sleep(until: taskDue.value)
                let now = ContinuousClock.now
                let late = now - taskDue.value
                worst.withLock { $0 = max($0, late) }
                if late > .zero { taskTotal.withLock { $0 += late } }
                taskDue.withLock { $0 = now + .milliseconds(5) }
            }
        }
        let source = DispatchSource.makeTimerSource(queue: .global())
        timer = TimerBox(source)
        source.setEventHandler {
            let now = ContinuousClock.now
            let late = now - timerDue.value
            worst.withLock { $0 = max($0, late) }
            if late > .zero { timerTotal.withLock { $0 += late } }
            timerDue.withLock { $0 = now + .milliseconds(5) }
        }
        source.schedule(deadline: .now() + .milliseconds(5), repeating: .milliseconds(5))
        source.activate()
    }

    /// The worst lateness so far, including a heartbeat that is late right now.
    package var worstStall: Duration {
        let now = ContinuousClock.now
        return max(worst.value, now - taskDue.value, now - timerDue.value, .zero)
    }

    /// Slack for an upper bound: a second, plus twice the worst stall (a timer and the resumed task can each
    /// be delayed by one).
    package var allowance: Duration { .seconds(1) + worstStall * 2 }

    /// Slack for an upper bound over several steps in a row, each of which a stall may delay: a second, plus twice
    /// every stall so far added up (the later heartbeat's sum, and a stall under way).
    package var sumAllowance: Duration {
        let now = ContinuousClock.now
        let under = max(now - taskDue.value, now - timerDue.value, .zero)
        return .seconds(1) + (max(taskTotal.value, timerTotal.value) + under) * 2
    }

    deinit {
        task.cancel()
        timer.source.cancel()
    }
}

/// A Dispatch timer held by a `StallMeter`. `@unchecked Sendable`: the meter only activates the source in its
/// `init` and cancels it in its `deinit`, calls Dispatch makes thread-safe; the handler runs on a global queue
/// and touches only `Locked` values.
package final class TimerBox: @unchecked Sendable {
    package let source: any DispatchSourceTimer
    package init(_ source: any DispatchSourceTimer) { self.source = source }
}

/// A unique key prefix per test, so tests sharing the server never touch each other's keys.
package func uniqueKey(_ name: String = #function) -> String {
    "test:\(name.prefix(while: { $0 != "(" })):\(UUID().uuidString)"
}

/// A redis-server of a test's own, for tests that kill, pause or password-protect it. Always `stop()` it.
package final class RedisServerProcess: @unchecked Sendable {
    package let port: Int
    package let directory: URL
    private let arguments: [String]
    /// Options `cli` passes before its arguments (`--tls --cacert …` for a TLS server).
    package var cliOptions: [String] = []
    /// Replaced by `restart()`; the test that owns the server is its only user.
    private var process: Process

    /// Starts `redis-server` on a free loopback port with `arguments` added, and waits until it answers.
    package static func start(_ arguments: [String] = [], port: Int? = nil) async throws -> RedisServerProcess {
        if let port { return try await RedisServerProcess(port: port, arguments: arguments) }
        var lastError: (any Error)?
        for _ in 0..<10 {
            do {
                return try await RedisServerProcess(port: try freePort(), arguments: arguments)
            } catch {
                lastError = error
            }
        }
        throw lastError ?? RedisError(.connectionFailed, "could not start redis-server")
    }

    private init(port: Int, arguments: [String]) async throws {
        self.port = port
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("axon-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.arguments = [
            "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
            "--dir", directory.path, "--logfile", directory.appendingPathComponent("redis.log").path,
        ] + arguments
        process = Process()
        try await launch()
    }

    private func launch() async throws {
        process = Process()
        let binary = ProcessInfo.processInfo.environment["REDIS_SERVER_BIN"] ?? "/usr/bin/redis-server"
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        try process.run()
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            guard process.isRunning else { break }
            if Self.accepts(port: port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        stop()
        throw RedisError(.connectionFailed, "redis-server did not start on port \(port)")
    }

    /// Starts the server again after `crash()`: same port, directory and arguments (an AOF is replayed).
    package func restart() async throws {
        try await launch()
    }

    /// Runs `redis-cli` against this server with `arguments`; returns its standard output.
    package func cli(_ arguments: [String]) throws -> String {
        let cli = Process()
        cli.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        cli.arguments = cliOptions + ["-h", "127.0.0.1", "-p", "\(port)"] + arguments
        let output = Pipe()
        cli.standardOutput = output
        try cli.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        cli.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// Sends SIGSTOP: the server keeps its sockets but answers nothing.
    package func pause() { kill(process.processIdentifier, SIGSTOP) }
    /// Sends SIGCONT.
    package func resume() { kill(process.processIdentifier, SIGCONT) }
    /// Sends SIGKILL and waits for the process to end.
    package func crash() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Stops the server (also when paused) and removes its directory. SIGKILL, because a child spawned from a
    /// Dispatch worker thread inherits that thread's blocked-signal mask, SIGTERM included.
    package func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }


    package func configuration(
        password: String? = nil, username: String? = nil, commandTimeout: Duration? = .seconds(30)
    ) -> RedisConfiguration {
        RedisConfiguration(
            host: "127.0.0.1", port: port, username: username, password: password, connectTimeout: .seconds(30),
            commandTimeout: commandTimeout)
    }

    /// Whether a TCP connect to the port succeeds.
    package static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopbackAddress(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}

/// The throwaway TLS server and test certificates that `make test` provides (scripts/with-tls.sh), found through the
/// environment: `REDIS_TLS_TEST_PORT`, `REDIS_TLS_TEST_CERTS`.
package enum SharedTLSServer {
    package static var port: Int? { Int(ProcessInfo.processInfo.environment["REDIS_TLS_TEST_PORT"] ?? "") }
    /// The certificate directory (ca.pem, server.pem/.key, client.pem/.key, expired.pem/.key, other-ca.pem).
    package static var certificates: String? { ProcessInfo.processInfo.environment["REDIS_TLS_TEST_CERTS"] }
    package static var isAvailable: Bool { port != nil && certificates != nil }

    /// TLS settings trusting the test CA.
    package static func settings(
        caFile: String = "ca.pem", serverName: String? = nil, clientCertificate: Bool = false
    ) -> RedisTLSConfiguration {
        let directory = certificates ?? "/nonexistent"
        return RedisTLSConfiguration(
            caFile: directory + "/" + caFile, serverName: serverName,
            certificateFile: clientCertificate ? directory + "/client.pem" : nil, keyFile: clientCertificate ? directory + "/client.key" : nil)
    }

    /// The shared TLS server's configuration, generous timeouts.
    package static func configuration(commandTimeout: Duration? = .seconds(30)) -> RedisConfiguration {
        RedisConfiguration(
            host: "127.0.0.1", port: port ?? 6380, connectTimeout: .seconds(30), commandTimeout: commandTimeout, tls: settings())
    }
}

extension RedisServerProcess {
    /// A TLS-only redis-server of the test's own, with the test certificates: `certificate` names the server's pair
    /// (`server` or `expired`), `authClients` is `yes`, `no` or `optional`.
    package static func startTLS(certificate: String = "server", authClients: String = "no", arguments: [String] = []) async throws -> RedisServerProcess {
        guard let directory = SharedTLSServer.certificates else {
            throw RedisError(.invalidArgument, "REDIS_TLS_TEST_CERTS is not set: run the tests through scripts/with-tls.sh (make test)")
        }
        var lastError: (any Error)?
        for _ in 0..<10 {
            let port = try freePort()
            do {
                let server = try await start([
                    "--port", "0", "--tls-port", "\(port)", "--tls-cert-file", "\(directory)/\(certificate).pem",
                    "--tls-key-file", "\(directory)/\(certificate).key", "--tls-ca-cert-file", "\(directory)/ca.pem",
                    "--tls-auth-clients", authClients,
                ] + arguments, port: port)
                server.cliOptions = ["--tls", "--cacert", "\(directory)/ca.pem", "--cert", "\(directory)/client.pem", "--key", "\(directory)/client.key"]
                return server
            } catch {
                lastError = error
            }
        }
        throw lastError ?? RedisError(.connectionFailed, "could not start a TLS redis-server")
    }

    /// This server's configuration over TLS with `settings`.
    package func tlsConfiguration(_ settings: RedisTLSConfiguration, connectTimeout: Duration = .seconds(30)) -> RedisConfiguration {
        RedisConfiguration(host: "127.0.0.1", port: port, connectTimeout: connectTimeout, commandTimeout: .seconds(30), tls: settings)
    }
}

/// A TCP listener on loopback that never accepts: connects complete in the kernel, nothing is ever answered.
package final class SilentListener: @unchecked Sendable {
    package let port: Int
    private let fd: Int32

    package init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, bound == 0, listen(fd, 16) == 0 else {
            throw RedisError(.connectionFailed, "could not open a silent listener")
        }
        self.fd = fd
        port = boundPort(fd)
    }

    package func close() { _ = Glibc.close(fd) }
}

/// A listener that answers every connection the way a refusing server does, then closes it: writes an error
/// at once (`maxclients` reached), closes without writing, or reads the first request and answers `-DENIED`.
package final class ClosingListener: @unchecked Sendable {
    package enum Behaviour: Sendable, CaseIterable { case errorAtOnce, closeAtOnce, denyAfterRequest }

    package let port: Int
    private let fd: Int32
    private let thread: Thread

    package init(_ behaviour: Behaviour) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, bound == 0, listen(fd, 128) == 0 else {
            throw RedisError(.connectionFailed, "could not open a closing listener")
        }
        self.fd = fd
        port = boundPort(fd)
        // `@unchecked Sendable`: the thread owns the accepted sockets; `close()` only shuts the listener down.
        thread = Thread {
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                switch behaviour {
                case .errorAtOnce:
                    let message = Array("-ERR max number of clients reached\r\n".utf8)
                    _ = message.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                case .closeAtOnce:
                    break
                case .denyAfterRequest:
                    var buffer = [UInt8](repeating: 0, count: 512)
                    _ = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                    let message = Array("-DENIED Redis is running in protected mode\r\n".utf8)
                    _ = message.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                }
                _ = Glibc.close(client)
            }
        }
        thread.start()
    }

    package func close() {
        _ = shutdown(fd, Int32(SHUT_RDWR))
        _ = Glibc.close(fd)
    }
}

/// A loopback port that nothing listens on right now.
package func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw RedisError(.connectionFailed, "socket() failed") }
    defer { close(fd) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw RedisError(.connectionFailed, "bind() failed") }
    return boundPort(fd)
}

private func loopbackAddress(port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}

private func boundPort(_ fd: Int32) -> Int {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Awaits `body` with a deadline; a hang becomes a test failure instead of a stuck suite (the hung work is
/// left behind, which is fine in a test process).
package func withDeadline<T: Sendable>(
    _ limit: Duration, _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let once = Mutex<CheckedContinuation<T, any Error>?>(nil)
    return try await withCheckedThrowingContinuation { continuation in
        once.withLock { $0 = continuation }
        let finish: @Sendable (Result<T, any Error>) -> Void = { result in
            once.withLock { stored in
                stored?.resume(with: result)
                stored = nil
            }
        }
        Task {
            do { finish(.success(try await body())) } catch { finish(.failure(error)) }
        }
        Task {
            try? await Task.sleep(for: limit)
            finish(.failure(RedisError(.commandTimeout, "the test's operation did not finish within \(limit)")))
        }
    }
}

/// A value shared between test tasks.
package final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    package init(_ value: Value) { mutex = Mutex(value) }
    package func withLock<R: Sendable>(_ body: (inout Value) -> R) -> R { mutex.withLock { body(&$0) } }
    package var value: Value { mutex.withLock { $0 } }
}

/// A Redis Cluster of a test's own: 3 primaries and 3 replicas on free loopback ports (node timeout 1 s, replicas
/// always eligible for failover), formed with `redis-cli --cluster create`. Always `stop()` it.
package final class RedisClusterProcess: @unchecked Sendable {
    package let nodes: [RedisServerProcess]

    /// Starts a cluster, trying other ports up to three times when a node or the cluster does not come up. With
    /// `tls`, every node speaks only TLS, to clients and on the cluster bus and replication (the test certificates).
    package static func start(tls: Bool = false) async throws -> RedisClusterProcess {
        var lastError: (any Error)?
        for _ in 0..<3 {
            do { return try await attempt(tls: tls) } catch { lastError = error }
        }
        throw lastError ?? RedisError(.connectionFailed, "could not start a test cluster")
    }

    private static func attempt(tls: Bool) async throws -> RedisClusterProcess {
        var security: [String] = [], cliOptions: [String] = []
        if tls {
            let node = try TLSTestNode.arguments()
            security = ["--tls-cluster", "yes"] + node.server
            cliOptions = node.cli
        }
        var nodes: [RedisServerProcess] = []
        do {
            for _ in 0..<6 {
                // The cluster bus listens on port + 10,000: both must be valid and free.
                var port = try freePort()
                while port > 55_535 || !Self.free(port + 10_000) { port = try freePort() }
                // TLS: the port is the TLS port (`--port 0` after the plaintext one turns plaintext off).
                let listen = tls ? ["--port", "0", "--tls-port", "\(port)"] : []
                let node = try await RedisServerProcess.start([
                    "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000",
                    "--cluster-replica-validity-factor", "0",
                ] + listen + security, port: port)
                node.cliOptions = cliOptions
                nodes.append(node)
            }
            let cluster = RedisClusterProcess(nodes: nodes)
            let create = Process()
            create.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
            create.arguments = cliOptions + ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" } + ["--cluster-replicas", "1", "--cluster-yes"]
            create.standardOutput = FileHandle.nullDevice
            create.standardError = FileHandle.nullDevice
            try create.run()
            // It waits for the nodes to meet for as long as it takes: give up after 30 s (a node that cannot join).
            let deadline = ContinuousClock.now + .seconds(30)
            while create.isRunning, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            if create.isRunning {
                create.terminate()
                create.waitUntilExit()
                throw RedisError(.connectionFailed, "redis-cli --cluster create did not finish within 30 s")
            }
            guard create.terminationStatus == 0 else { throw RedisError(.connectionFailed, "redis-cli --cluster create failed") }
            try await cluster.waitUntilHealthy()
            return cluster
        } catch {
            for node in nodes { node.stop() }
            throw error
        }
    }

    private init(nodes: [RedisServerProcess]) {
        self.nodes = nodes
    }

    /// Waits until every running node says `cluster_state:ok` and three replicas are in sync.
    package func waitUntilHealthy(timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let states = nodes.compactMap { try? $0.cli(["CLUSTER", "INFO"]) }
            let replication = nodes.compactMap { try? $0.cli(["INFO", "replication"]) }
            if !states.isEmpty, states.allSatisfy({ $0.contains("cluster_state:ok") }),
               replication.filter({ $0.contains("master_link_status:up") }).count >= 3 {
                return
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw RedisError(.connectionFailed, "the test cluster did not become healthy")
    }

    /// `host:port` of every node, for `RedisClusterConfiguration(seeds:)`.
    package var seeds: [String] { nodes.map { "127.0.0.1:\($0.port)" } }

    package func stop() {
        for node in nodes { node.stop() }
    }

    private static func free(_ port: Int) -> Bool { !RedisServerProcess.accepts(port: port) }
}

/// The options of a TLS-only test node (server or sentinel) with the test certificates.
enum TLSTestNode {
    /// `--name value` pairs for redis-server (also written as `name value` lines in a sentinel's file), and the
    /// `redis-cli` options to reach such a node.
    static func arguments() throws -> (server: [String], cli: [String]) {
        guard let directory = SharedTLSServer.certificates else {
            throw RedisError(.invalidArgument, "REDIS_TLS_TEST_CERTS is not set: run the tests through scripts/with-tls.sh (make test)")
        }
        return ([
            "--tls-replication", "yes", "--tls-cert-file", "\(directory)/server.pem", "--tls-key-file", "\(directory)/server.key",
            "--tls-ca-cert-file", "\(directory)/ca.pem", "--tls-auth-clients", "no",
            // Outgoing links (the cluster bus, which always asks for a certificate; replication; sentinels) present one
            // made for client authentication.
            "--tls-client-cert-file", "\(directory)/client.pem", "--tls-client-key-file", "\(directory)/client.key",
        ], ["--tls", "--cacert", "\(directory)/ca.pem"])
    }
}

/// A primary, a replica and three sentinels monitoring them as `mymaster` (down after 1 s, failover timeout 5 s),
/// each in a temporary directory of its own. Always `stop()` it.
package final class RedisSentinelGroup: @unchecked Sendable {
    package let primary: RedisServerProcess
    package let replica: RedisServerProcess
    package let sentinelPorts: [Int]
    private let sentinels: [Process]
    private let directory: URL
    /// `redis-cli` options for the sentinels (`--tls --cacert …` over TLS).
    private let cliOptions: [String]
    package static let masterName = "mymaster"

    /// Starts the group; with `tls`, every server and sentinel speaks only TLS (clients, replication and the
    /// sentinels' links) with the test certificates.
    package static func start(tls: Bool = false) async throws -> RedisSentinelGroup {
        let security = tls ? try TLSTestNode.arguments() : nil
        func server(_ arguments: [String]) async throws -> RedisServerProcess {
            guard let security else { return try await RedisServerProcess.start(arguments) }
            let port = try freePort()
            let node = try await RedisServerProcess.start(["--port", "0", "--tls-port", "\(port)"] + security.server + arguments, port: port)
            node.cliOptions = security.cli
            return node
        }
        let primary = try await server([])
        var replica: RedisServerProcess?
        var started: [Process] = []
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("axon-sentinels-\(UUID().uuidString)")
        do {
            replica = try await server(["--replicaof", "127.0.0.1", "\(primary.port)"])
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            var ports: [Int] = []
            for index in 0..<3 {
                let port = try freePort()
                let config = directory.appendingPathComponent("sentinel-\(index).conf")
                let listen = security.map { security in
                    "port 0\ntls-port \(port)\n" + stride(from: 0, to: security.server.count, by: 2).map {
                        "\(security.server[$0].dropFirst(2)) \(security.server[$0 + 1])"
                    }.joined(separator: "\n")
                } ?? "port \(port)"
                try """
                \(listen)
                bind 127.0.0.1
                dir \(directory.path)
                logfile \(directory.appendingPathComponent("sentinel-\(index).log").path)
                sentinel monitor \(masterName) 127.0.0.1 \(primary.port) 2
                sentinel down-after-milliseconds \(masterName) 1000
                sentinel failover-timeout \(masterName) 5000
                sentinel parallel-syncs \(masterName) 1

                """.write(to: config, atomically: true, encoding: .utf8)
                let process = Process()
                let sentinelBinary = "/usr/bin/redis-sentinel"
                if FileManager.default.isExecutableFile(atPath: sentinelBinary) {
                    process.executableURL = URL(fileURLWithPath: sentinelBinary)
                    process.arguments = [config.path]
                } else {
                    process.executableURL = URL(fileURLWithPath: ProcessInfo.processInfo.environment["REDIS_SERVER_BIN"] ?? "/usr/bin/redis-server")
                    process.arguments = [config.path, "--sentinel"]
                }
                try process.run()
                started.append(process)
                ports.append(port)
            }
            let group = RedisSentinelGroup(
                primary: primary, replica: replica ?? primary, sentinelPorts: ports, sentinels: started, directory: directory,
                cliOptions: security?.cli ?? [])
            try await group.waitUntilReady()
            return group
        } catch {
            for process in started where process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
            replica?.stop()
            primary.stop()
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    private init(
        primary: RedisServerProcess, replica: RedisServerProcess, sentinelPorts: [Int], sentinels: [Process], directory: URL, cliOptions: [String]
    ) {
        self.cliOptions = cliOptions
        self.primary = primary
        self.replica = replica
        self.sentinelPorts = sentinelPorts
        self.sentinels = sentinels
        self.directory = directory
    }

    /// Waits until the replica is in sync and every sentinel knows the other two and the replica.
    private func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let synced = (try? replica.cli(["INFO", "replication"]))?.contains("master_link_status:up") == true
            var ready = synced
            for port in sentinelPorts where ready {
                let others = cli(port: port, ["SENTINEL", "SENTINELS", Self.masterName])
                let replicas = cli(port: port, ["SENTINEL", "REPLICAS", Self.masterName])
                ready = others.components(separatedBy: "\nname\n").count - 1 >= 2 || others.split(separator: "\n").filter({ $0 == "name" }).count >= 2
                ready = ready && replicas.contains("\(replica.port)")
            }
            if ready { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw RedisError(.connectionFailed, "the sentinels did not discover each other and the replica in time")
    }

    func cli(port: Int, _ arguments: [String]) -> String {
        let cli = Process()
        cli.executableURL = URL(fileURLWithPath: "/usr/bin/redis-cli")
        cli.arguments = cliOptions + ["-h", "127.0.0.1", "-p", "\(port)"] + arguments
        let output = Pipe()
        cli.standardOutput = output
        cli.standardError = FileHandle.nullDevice
        guard (try? cli.run()) != nil else { return "" }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        cli.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    /// `host:port` of the sentinels.
    package var sentinelAddresses: [String] { sentinelPorts.map { "127.0.0.1:\($0)" } }

    /// The master's port as the sentinels report it now.
    package func masterPort() -> Int? {
        let reply = cli(port: sentinelPorts[0], ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", Self.masterName])
        return reply.split(separator: "\n").last.flatMap { Int($0) }
    }

    /// Asks a sentinel for a failover now.
    package func failover() -> String {
        cli(port: sentinelPorts[0], ["SENTINEL", "FAILOVER", Self.masterName])
    }

    package func stop() {
        for process in sentinels where process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        replica.stop()
        primary.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Tests that load the machine for seconds (10,000-entry tiers) take turns, so that all of them at once do not
/// starve the timing-sensitive tests running beside them (every test runs at once on two cores).
package actor HeavyTestGate {
    package static let shared = HeavyTestGate()
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    package func run<T: Sendable>(_ body: @Sendable () async throws -> T) async rethrows -> T {
        if busy {
            await withCheckedContinuation { waiters.append($0) }
        } else {
            busy = true
        }
        defer {
            if waiters.isEmpty { busy = false } else { waiters.removeFirst().resume() }
        }
        return try await body()
    }
}
